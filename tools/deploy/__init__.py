"""scripts/deploy-smoke's rig: the compose stack driven from outside, as a center uses it."""
