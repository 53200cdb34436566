"""The Faust application: topics, agents, timers (``faust -A streams.app``)."""
