"""Fault suite (issue 20): outages, kills, concurrent writers, adversarial input, secrets.

Each test prints its figure (requests answered, 5xx, records lost, chunks lost or duplicated,
secrets found) and asserts the contract (zero where zero is the contract). Marker: faults.
"""
