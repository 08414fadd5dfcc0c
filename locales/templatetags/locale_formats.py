"""`{% load locale_formats %}`: {{ amount|money:currency }}, {{ count|number }},
{{ value|number:2 }}, {{ moment|local_datetime }}, {{ day|local_date }} (locales.formats)."""

from django import template

from locales import formats

register = template.Library()

register.filter("money", formats.money)
register.filter("number", formats.number)
register.filter("local_datetime", formats.local_datetime)
register.filter("local_date", formats.local_date)
