"""CJ's logistic names → the carrier names Shopify knows (tracking links and shipment-status updates come with those).

Shopify builds the tracking link and follows the parcel only for a company named exactly as in its list
(FulfillmentTrackingInfo.company, capitalisation included). CJ names its lines ("CJPacket Ordinary", "USPS+",
"DHL Official"); where the line is a carrier Shopify knows, that carrier's name is sent. CJ's own lines
(CJPacket …) are no carrier Shopify knows: their name goes as it is, with the tracking URL we always send.
"""
from __future__ import annotations

from service.config import carrier_key

# (the start of CJ's name, letters and digits only, lower case) → Shopify's name. Longer starts first.
_BY_PREFIX = (
    ("dhlecommerceasia", "DHL eCommerce Asia"),
    ("dhlecommerce", "DHL eCommerce"),
    ("dhl", "DHL Express"),  # "DHL", "DHL Official", "DHL Express"
    ("usps", "USPS"),  # "USPS", "USPS+", "USPS Priority Mail"
    ("ups", "UPS"),
    ("fedex", "FedEx"),
    ("yunexpress", "YunExpress"),  # also "YunExpress Sensitive"
    ("4px", "4PX"),
    ("yanwen", "Yanwen"),
    ("chinapost", "China Post"),
    ("epacket", "China Post"),  # ePacket is China Post's service
    ("royalmail", "Royal Mail"),
    ("canadapost", "Canada Post"),
    ("australiapost", "Australia Post"),
    ("deutschepost", "Deutsche Post"),
    ("postnl", "PostNL"),
    ("laposte", "La Poste"),
    ("colissimo", "Colissimo"),
    ("correos", "Correos"),
    ("dpd", "DPD"),
    ("gls", "GLS"),
)


def shopify_carrier(cj_logistic_name: str | None, overrides: dict | None = None) -> str | None:
    """Shopify's carrier name for a CJ logistic name (the merchant's CARRIER_CODES entry first), or None
    where Shopify has none (CJ's name is sent)."""
    key = carrier_key(cj_logistic_name)
    if not key:
        return None
    if overrides and key in overrides:
        return overrides[key]
    return next((name for prefix, name in _BY_PREFIX if key.startswith(prefix)), None)
