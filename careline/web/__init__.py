"""The HTTP side of careline: Twilio webhooks, the app API, the operator dashboard.

One FastAPI application (``create_app``) served by ``careline web``; each
concern is a router in its own module.
"""
