"""careline: command line, local stack (broker, worker) and replays."""
