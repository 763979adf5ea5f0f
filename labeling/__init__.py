"""The human loop: policies, items, queues, leases, decisions, labels, consensus, import."""
