"""Input schemas for the admin API (marshmallow); errors become 400 with the field messages."""
from __future__ import annotations

import re
from decimal import Decimal

from marshmallow import RAISE, Schema, ValidationError, fields, validate, validates_schema

from adapters import platforms
from service.pipeline.pricing_rule import ENDINGS


class StoreCreateSchema(Schema):
    class Meta:
        unknown = RAISE

    platform = fields.String(required=True, validate=validate.OneOf(platforms()))
    shop_domain = fields.String(validate=validate.Length(min=3, max=255))
    site_url = fields.String(validate=validate.Length(min=3, max=255))
    name = fields.String(validate=validate.Length(max=255), allow_none=True)
    webhook_secret = fields.String(validate=validate.Length(min=8, max=500))
    previous_webhook_secret = fields.String(validate=validate.Length(min=8, max=500), allow_none=True)
    api_credentials = fields.Dict(keys=fields.String(), values=fields.String(), load_default=dict)
    api_base_url = fields.Url(require_tld=False, allow_none=True, schemes={"http", "https"})

    @validates_schema
    def _credentials(self, data, **_kwargs):
        _check_credentials(data.get("api_credentials"))

    @validates_schema
    def _one_domain(self, data, **_kwargs):
        if not (data.get("shop_domain") or data.get("site_url")):
            raise ValidationError("give shop_domain (Shopify, eBay's seller, TikTok Shop's shop id) or site_url "
                                  "(WooCommerce)", "shop_domain")
        if data.get("platform") == "tiktok_shop" and not all(
                (data.get("api_credentials") or {}).get(k) for k in ("client_id", "client_secret", "refresh_token",
                                                                      "shop_cipher")):
            raise ValidationError("a TikTok Shop store needs api_credentials client_id (app key), client_secret "
                                  "(app secret), refresh_token and shop_cipher", "api_credentials")
        if data.get("platform") == "ebay" and data.get("webhook_secret") and not re.fullmatch(
                r"[A-Za-z0-9_-]{32,80}", data["webhook_secret"]):
            # It is eBay's endpoint verification token, with eBay's rules for it.
            raise ValidationError("an eBay verification token is 32 to 80 letters, digits, _ or -", "webhook_secret")
        if data.get("platform") == "shopify" and not data.get("webhook_secret"):
            # Shopify signs with the app's client secret: only the merchant knows it.
            raise ValidationError("the Shopify app's client secret is required", "webhook_secret")


def _check_credentials(credentials: dict | None) -> None:
    """A client-credentials app needs both halves; the grant's own bookkeeping is never set by hand."""
    credentials = credentials or {}
    if bool(credentials.get("client_id")) != bool(credentials.get("client_secret")):
        raise ValidationError("give both client_id and client_secret (a Dev Dashboard app), or neither",
                              "api_credentials")
    internal = sorted(k for k in credentials if k in ("granted_access_token", "granted_expires_at",
                                                      "grant_started_at"))
    if internal:
        raise ValidationError(f"{', '.join(internal)} are kept by the service, not set", "api_credentials")


class PricingRuleSchema(Schema):
    """Store price = CJ's price (USD) × multiplier in `currency`, + add, raised to `ending` (e.g. ".99")."""
    class Meta:
        unknown = RAISE

    multiplier = fields.Decimal(required=True, places=4, validate=validate.Range(min=Decimal("0.01"),
                                                                              max=Decimal(100)), as_string=True)
    currency = fields.String(required=True, validate=validate.Regexp(r"^[A-Z]{3}$", error="a 3-letter ISO code"))
    add = fields.Decimal(places=2, validate=validate.Range(min=Decimal(0), max=Decimal(100000)), as_string=True)
    ending = fields.String(validate=validate.OneOf(ENDINGS))


class StoreUpdateSchema(Schema):
    class Meta:
        unknown = RAISE

    @validates_schema
    def _credentials(self, data, **_kwargs):
        _check_credentials(data.get("api_credentials"))

    name = fields.String(validate=validate.Length(max=255), allow_none=True)
    webhook_secret = fields.String(validate=validate.Length(min=8, max=500))
    previous_webhook_secret = fields.String(validate=validate.Length(min=8, max=500), allow_none=True)
    api_credentials = fields.Dict(keys=fields.String(), values=fields.String())
    api_base_url = fields.Url(require_tld=False, allow_none=True, schemes={"http", "https"})
    active = fields.Boolean()
    stock_buffer = fields.Integer(strict=True, validate=validate.Range(min=0, max=100000))
    stock_location_id = fields.String(validate=validate.Length(min=1, max=255), allow_none=True)
    pricing_rule = fields.Nested(PricingRuleSchema, allow_none=True)  # None: store prices are never changed


class SkuMappingSchema(Schema):
    class Meta:
        unknown = RAISE

    store_id = fields.Integer(required=True, strict=True)
    store_sku = fields.String(validate=validate.Length(min=1, max=255), allow_none=True)
    store_variant_id = fields.String(validate=validate.Length(min=1, max=64), allow_none=True)
    cj_vid = fields.String(required=True, validate=validate.Length(min=1, max=64))
    cj_sku = fields.String(validate=validate.Length(max=100), allow_none=True)
    cj_pid = fields.String(validate=validate.Length(min=1, max=64), allow_none=True)
    self_stocked = fields.Boolean()  # the merchant keeps this variant's stock: never written
    stock_buffer = fields.Integer(strict=True, validate=validate.Range(min=0, max=100000), allow_none=True)

    @validates_schema
    def _one_key(self, data, **_kwargs):
        if not (data.get("store_sku") or data.get("store_variant_id")):
            raise ValidationError("give store_sku or store_variant_id", "store_sku")


class SkuMappingKeySchema(Schema):
    class Meta:
        unknown = RAISE

    store_id = fields.Integer(required=True, strict=True)
    store_sku = fields.String(validate=validate.Length(min=1, max=255))
    store_variant_id = fields.String(validate=validate.Length(min=1, max=64))

    @validates_schema
    def _one_key(self, data, **_kwargs):
        if not (data.get("store_sku") or data.get("store_variant_id")):
            raise ValidationError("give store_sku or store_variant_id", "store_sku")


class ShippingRuleSchema(Schema):
    class Meta:
        unknown = RAISE

    country_code = fields.String(required=True, validate=validate.Regexp(r"^([A-Za-z]{2}|\*)$",
                                                                         error="ISO-3166 alpha-2 code or '*'"))
    logistic_names = fields.List(fields.String(validate=validate.Length(min=1, max=50)), required=True,
                                 validate=validate.Length(min=1))
    max_shipping_cost = fields.Decimal(allow_none=True, validate=validate.Range(min=0), as_string=True)
    # Methods allowed when the order ships from a local CJ warehouse (CJ_WAREHOUSES): {"US": ["USPS+"]}.
    logistic_names_by_origin = fields.Dict(
        keys=fields.String(validate=validate.Regexp(r"^[A-Za-z]{2}$", error="ISO-3166 alpha-2 code")),
        values=fields.List(fields.String(validate=validate.Length(min=1, max=50)), validate=validate.Length(min=1)),
        load_default=dict)


class AcknowledgeSchema(Schema):
    class Meta:
        unknown = RAISE

    comment = fields.String(validate=validate.Length(max=500), allow_none=True)


class ExchangeRateSchema(Schema):
    class Meta:
        unknown = RAISE

    currency = fields.String(required=True, validate=validate.Regexp(r"^[A-Za-z]{3}$",
                                                                     error="ISO-4217 code, e.g. EUR"))
    usd_per_unit = fields.Decimal(required=True, as_string=True, places=None,
                                  validate=validate.Range(min=0, min_inclusive=False))
