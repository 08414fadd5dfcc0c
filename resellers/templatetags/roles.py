"""`{% load roles %}`: {{ group|role_name }}, {{ user.groups.all|role_names }} (in the reader's
language; resellers.scoping.ROLE_NAMES)."""

from django import template

from resellers.scoping import role_name

register = template.Library()

register.filter("role_name", role_name)


@register.filter
def role_names(groups) -> str:
    return ", ".join(role_name(group) for group in groups)
