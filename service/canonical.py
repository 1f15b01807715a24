"""The canonical order every platform adapter produces, validated with marshmallow."""
from __future__ import annotations

from marshmallow import EXCLUDE, Schema, ValidationError, fields, validate

PAID_FINANCIAL_STATUSES = ("paid", "partially_refunded")


class AddressSchema(Schema):
    class Meta:
        unknown = EXCLUDE

    name = fields.String(allow_none=True, load_default=None)
    first_name = fields.String(allow_none=True, load_default=None)
    last_name = fields.String(allow_none=True, load_default=None)
    company = fields.String(allow_none=True, load_default=None)
    address1 = fields.String(allow_none=True, load_default=None)
    address2 = fields.String(allow_none=True, load_default=None)
    city = fields.String(allow_none=True, load_default=None)
    province = fields.String(allow_none=True, load_default=None)
    province_code = fields.String(allow_none=True, load_default=None)
    zip = fields.String(allow_none=True, load_default=None)
    country = fields.String(allow_none=True, load_default=None)
    country_code = fields.String(allow_none=True, load_default=None)
    phone = fields.String(allow_none=True, load_default=None)
    email = fields.String(allow_none=True, load_default=None)


class LineSchema(Schema):
    class Meta:
        unknown = EXCLUDE

    line_id = fields.String(required=True, validate=validate.Length(min=1))
    line_ref = fields.String(allow_none=True, load_default=None)  # platform's own handle, e.g. a GraphQL gid
    variant_id = fields.String(allow_none=True, load_default=None)
    product_id = fields.String(allow_none=True, load_default=None)
    sku = fields.String(allow_none=True, load_default=None)
    title = fields.String(allow_none=True, load_default=None)
    quantity = fields.Integer(required=True, validate=validate.Range(min=0))
    unit_price = fields.Decimal(as_string=True, allow_none=True, load_default=None)
    requires_shipping = fields.Boolean(load_default=True)


class CanonicalOrderSchema(Schema):
    class Meta:
        unknown = EXCLUDE

    platform = fields.String(required=True)
    store_order_id = fields.String(required=True, validate=validate.Length(min=1, max=64))
    order_ref = fields.String(allow_none=True, load_default=None)
    name = fields.String(allow_none=True, load_default=None)
    currency = fields.String(allow_none=True, load_default=None)
    total_price = fields.Decimal(as_string=True, allow_none=True, load_default=None)
    subtotal_price = fields.Decimal(as_string=True, allow_none=True, load_default=None)
    shipping_price = fields.Decimal(as_string=True, allow_none=True, load_default=None)
    financial_status = fields.String(allow_none=True, load_default=None)
    paid = fields.Boolean(required=True)
    cancelled = fields.Boolean(required=True)
    refunded = fields.Boolean(load_default=False)  # the whole order was refunded (it may still be open)
    test = fields.Boolean(load_default=False)
    email = fields.String(allow_none=True, load_default=None)
    note = fields.String(allow_none=True, load_default=None)
    customer_ref = fields.String(allow_none=True, load_default=None)  # the buyer's platform user id (erasure)
    lines = fields.List(fields.Nested(LineSchema), required=True)
    shipping_address = fields.Nested(AddressSchema, allow_none=True, load_default=None)
    created_at = fields.DateTime(allow_none=True, load_default=None)
    updated_at = fields.DateTime(required=True)
    # The platform's deadline to hand the parcel to the carrier (TikTok Shop's rts_sla_time); late costs the shop.
    ship_by = fields.DateTime(allow_none=True, load_default=None)


class CanonicalOrderError(ValueError):
    """The platform payload cannot be turned into an order; the message says which field."""


def validate_canonical(data: dict) -> dict:
    """Validate adapter output and return it in JSON-ready form (decimals and times as strings)."""
    schema = CanonicalOrderSchema()
    try:
        loaded = schema.load(data)
    except ValidationError as exc:
        raise CanonicalOrderError(f"payload does not make a valid order: {exc.messages}") from None
    return schema.dump(loaded)
