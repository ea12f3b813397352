"""Demo data: a believable shop's month of orders and after-sales cases, for trying the portal out."""
