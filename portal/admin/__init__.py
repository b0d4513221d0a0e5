"""Administration by the secretariat, and the audit-trail browser."""
