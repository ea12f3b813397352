"""PDF documents: return instructions for buyers, evidence packs and bulk exports for auditors."""
