"""curate.ingest"""
