"""Approvals: a risky verb waits until an approver (never the requester) approves the exact action."""
