"""Test harnesses that run real outside parts locally (a Prism mock of Twilio's API)."""
