"""Approved returns beyond the lifecycle's own steps: return-shipping insurance claims and prepaid labels."""
