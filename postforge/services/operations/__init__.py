"""Operations: what runs the whole system — health, housekeeping, admin figures, the dashboard, demo data.

These modules sit on top and may call any domain; no domain imports them.
"""
