"""Meetings: who meets when, who may join, and who attended."""
