"""Seller-center CSV imports of orders and returns, in the browser."""
