"""curate.trainer"""
