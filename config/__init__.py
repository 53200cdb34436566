"""Typed settings from the environment and the one list of Kafka topics."""
