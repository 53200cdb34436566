"""Adapters to engines outside careline's domain (road networks, ...), behind the small
interfaces the domain defines (``handlers.dispatch.scheduling.TravelTimes``)."""
