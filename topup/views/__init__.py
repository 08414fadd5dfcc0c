"""The staff and customer pages of top-up cards, one module per page group (topup/urls.py)."""
