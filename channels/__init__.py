"""The channel services shared by the web service and the stream worker: the
hotline's and SMS inbox's use cases behind the Twilio webhooks, the app
channel, status callbacks, the satisfaction callback survey, app tokens, and
the outbound SMS and calls (``channels.notify``, the Twilio adapter). Each
runs one transaction through the unit of work and the domain's rules in
``handlers.channels``; none imports the web framework or the stream processor."""
