"""curate.review"""
