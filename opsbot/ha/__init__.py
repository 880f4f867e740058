"""Several replicas of the bot: one alert leader per cluster, elected with a Kubernetes Lease.

lease.py     who leads, decided from the Lease record (pure)
elector.py   the campaign for one cluster: renew, take over, stop in time, release
peers.py     where each replica is reached (its URL, advertised in the shared store)
forwarding.py  one hop to the leader for requests only it takes (Alertmanager's)
settings.py  ``ha:`` in the config
"""
