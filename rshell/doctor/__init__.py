"""``rshellctl doctor``: check a live host's rshell deployment and say how to fix each finding."""
