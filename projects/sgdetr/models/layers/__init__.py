from .query_group import QueryGroup

__all__ = ['QueryGroup']
