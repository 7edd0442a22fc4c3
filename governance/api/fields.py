"""Serializer fields the API shares."""

from __future__ import annotations

from rest_framework import serializers

NUL_MESSAGE = "This contains a NUL character."


class SlugRelatedField(serializers.SlugRelatedField):
    """DRF's, refusing a NUL byte before the lookup: PostgreSQL's text cannot hold one, so the
    query would fail in the database (a 500) instead of answering 400 for this field."""

    def to_internal_value(self, data):
        if isinstance(data, str) and "\x00" in data:
            raise serializers.ValidationError(NUL_MESSAGE)
        return super().to_internal_value(data)
