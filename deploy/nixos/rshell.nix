{ config, pkgs, lib, ... }:
with lib;
let
  cfg = config.services.rshell;
  yamlFormat = pkgs.formats.yaml { };

  # rshell from this repository (it is not in nixpkgs), with the Python it runs on.
  rshellFor = ps: ps.buildPythonPackage {
    pname = "rshell";
    version = "0.1.0";
    src = cleanSource ../..;
    pyproject = true;
    build-system = [ ps.setuptools ];
    dependencies = [ ps.docker ps.pyyaml ps.prompt-toolkit ];
    doCheck = false; # the tests need a Docker engine and sshd; they run in CI, not in the sandbox
  };
  python = pkgs.python3.withPackages (ps: [ (rshellFor ps) ]);

  socket = "/run/rshell/rshell.sock";
  policyPath = "/etc/rshell/policy.yaml";

  # The policy: the attribute set below, on top of these defaults, rendered to YAML.
  policyDefaults = {
    version = 1;
    engine = { url = "unix:///var/run/docker.sock"; timeout = "30s"; };
    audit_log = "/var/log/rshell/audit.jsonl";
    state_dir = "/var/lib/rshell";
  };
  policyFile = yamlFormat.generate "rshell-policy.yaml" (recursiveUpdate policyDefaults cfg.policy);

  # The login shell, written by rshell itself (rshell.launcher) so it is the same script Debian gets:
  # env -i, python -I -c (rshell.login), only "" or "-c LINE" accepted. It lives in the read-only store.
  launcher = pkgs.runCommand "rshell-login" { } ''
    ${python}/bin/python3 -I -c '
    import sys
    from pathlib import Path
    from rshell.launcher import render_launcher
    sys.stdout.write(render_launcher(Path(sys.argv[1]), Path(sys.argv[2]), Path(sys.argv[3])))
    ' ${python}/bin/python3 $out ${socket} > launcher
    install -m 0555 launcher $out
  '';

  # The Match block of deploy/sshd_config.d/rshell.conf, verbatim (one source for Debian and NixOS),
  # for this module's group. Its one global line (PermitUserEnvironment no) is set through settings.
  dropIn = builtins.readFile ../sshd_config.d/rshell.conf;
  matchBlock = "Match Group ${cfg.group}\n" + last (splitString "Match Group rshell\n" dropIn);
in
{
  options.services.rshell = {
    enable = mkEnableOption "rshell: a restricted SSH login shell for an AI agent, with rshelld holding the Docker socket";

    user = mkOption {
      type = types.str;
      default = "ai-worker";
      description = "The agent's account. It is never in the docker group; rshelld acts for it.";
    };

    group = mkOption {
      type = types.str;
      default = "rshell";
      description = ''
        Group of the broker socket, and the group sshd's Match block locks down. Only agent accounts
        belong in it: a person added here gets the agent's restrictions over SSH.
      '';
    };

    authorizedKeys = mkOption {
      type = types.listOf types.str;
      default = [ ];
      description = "SSH public keys of the agent (written root-owned to /etc/ssh/authorized_keys.d).";
    };

    policy = mkOption {
      type = yamlFormat.type;
      default = { };
      example = literalExpression ''
        {
          principals.users.ai-worker = "operator";
          roles.operator = {
            verbs = [ "ps" "logs" "restart" ];
            containers.names = [ "ollama" ];
            limits.restart = { count = 3; per = "10m"; };
            settings.logs.max_lines = 1000;
          };
        }
      '';
      description = ''
        The policy (see policy.yaml in the rshell repository), merged over defaults for version, engine,
        audit_log and state_dir, and installed root-owned as ${policyPath}. Default deny.
      '';
    };
  };

  config = mkIf cfg.enable {
    # The whole point: an account in the docker group can become root, whatever its shell.
    assertions = [
      {
        assertion = !(elem "docker" config.users.users.${cfg.user}.extraGroups)
          && !(elem cfg.user (config.users.groups.docker.members or [ ]));
        message = "services.rshell: ${cfg.user} must not be in the docker group; rshelld holds the socket for it";
      }
    ];

    users.groups.${cfg.group} = { };
    users.groups.${cfg.user} = { };
    users.users.${cfg.user} = {
      isSystemUser = true;
      description = "rshell agent";
      group = cfg.user;
      extraGroups = [ cfg.group ]; # reaches the broker socket, and matches sshd's Match block
      shell = "${launcher}";
      home = "/var/empty"; # root's and immutable: nothing sshd or PAM reads from it is the agent's
      createHome = false;
      hashedPassword = "*"; # no password, not locked: key login only
      openssh.authorizedKeys.keys = cfg.authorizedKeys;
    };
    environment.shells = [ "${launcher}" ];
    # rshellctl for the administrator: policy check, status, doctor (isolated like the shell)
    environment.systemPackages = [
      (pkgs.writeShellScriptBin "rshellctl" ''exec ${python}/bin/python3 -I -m rshell.ctl "$@"'')
    ];

    environment.etc."rshell/policy.yaml" = {
      source = policyFile;
      mode = "0644"; # a root-owned copy, not a store symlink
    };

    # sshd: the drop-in's Match block, before any other Match block (for sshd the first value wins).
    services.openssh.settings.PermitUserEnvironment = false;
    services.openssh.extraConfig = mkBefore matchBlock;

    systemd.services.rshelld = {
      description = "rshell broker: runs verbs for agent shells, holds the Docker socket";
      wantedBy = [ "multi-user.target" ];
      after = [ "docker.service" ];
      wants = [ "docker.service" ];
      restartTriggers = [ policyFile ];
      serviceConfig = {
        ExecStart = "${python}/bin/python3 -I -m rshell.broker.server --policy ${policyPath} --socket ${socket} --socket-group ${cfg.group}";
        ExecReload = "${pkgs.coreutils}/bin/kill -HUP $MAINPID";
        Restart = "on-failure";
        RuntimeDirectory = "rshell";
        RuntimeDirectoryMode = "0755";
        StateDirectory = "rshell";
        LogsDirectory = "rshell";
        NoNewPrivileges = true;
        ProtectSystem = "strict";
        ProtectHome = true;
        PrivateTmp = true;
      };
    };
  };
}
