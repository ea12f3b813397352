"""The analytics dashboard: return rates, reasons, refund cost, speed, disputes and the top problems."""
