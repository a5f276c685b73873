"""The running assistant: conversation loop, turns, sd_notify, latency records, doctor.

``assistant.service`` is the one package that meets every stage; it talks to them only
through ``assistant.protocols`` and the ports in :mod:`assistant.service.ports`.
"""
