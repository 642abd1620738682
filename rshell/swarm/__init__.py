"""Docker Swarm services on a manager node: resolution among the visible ones, listing, logs and forced updates."""
