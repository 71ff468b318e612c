"""Triggers of this provider: `new_logs.Auth0NewLogsTrigger`, the event-driven mode's watcher."""
