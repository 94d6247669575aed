"""curate.dedup"""
