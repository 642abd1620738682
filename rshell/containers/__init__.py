"""What the container verbs share: the redacted inspect view, the stats arithmetic, waiting until a container is up."""
