"""Every GraphQL Admin API document the Shopify store client sends, validated against the schema."""

from __future__ import annotations

# Discount mutations return the node id and the user errors; nothing else is read back.
_USER_ERRORS = "userErrors { field code message extraInfo }"

CREATE_BASIC_DISCOUNT = f"""
mutation CreateBasicDiscount($discount: DiscountCodeBasicInput!) {{
  discountCodeBasicCreate(basicCodeDiscount: $discount) {{
    codeDiscountNode {{ id }}
    {_USER_ERRORS}
  }}
}}
"""

CREATE_FREE_SHIPPING_DISCOUNT = f"""
mutation CreateFreeShippingDiscount($discount: DiscountCodeFreeShippingInput!) {{
  discountCodeFreeShippingCreate(freeShippingCodeDiscount: $discount) {{
    codeDiscountNode {{ id }}
    {_USER_ERRORS}
  }}
}}
"""

# Case-insensitive lookup of a code (base code or bulk-added redeem code) to its discount.
DISCOUNT_BY_CODE = """
query DiscountByCode($code: String!) {
  codeDiscountNodeByCode(code: $code) {
    id
    codeDiscount {
      __typename
      ... on DiscountCodeBasic { title status }
      ... on DiscountCodeFreeShipping { title status }
    }
  }
}
"""

DEACTIVATE_DISCOUNT = f"""
mutation DeactivateDiscount($id: ID!) {{
  discountCodeDeactivate(id: $id) {{
    codeDiscountNode {{ id }}
    {_USER_ERRORS}
  }}
}}
"""

BULK_ADD_CODES = f"""
mutation AddRedeemCodes($discountId: ID!, $codes: [DiscountRedeemCodeInput!]!) {{
  discountRedeemCodeBulkAdd(discountId: $discountId, codes: $codes) {{
    bulkCreation {{ id done }}
    {_USER_ERRORS}
  }}
}}
"""

# Cheap status poll; the per-code failures are read only when `failedCount` is not zero.
BULK_CREATION_STATUS = """
query RedeemCodeCreationStatus($id: ID!) {
  discountRedeemCodeBulkCreation(id: $id) {
    id
    done
    codesCount
    importedCount
    failedCount
  }
}
"""

BULK_CREATION_FAILURES = """
query RedeemCodeCreationFailures($id: ID!) {
  discountRedeemCodeBulkCreation(id: $id) {
    id
    codes(first: 250) {
      nodes { code errors { code message } }
    }
  }
}
"""

# The customer a friend's claimed code is bound to, found by the email they claimed with.
CUSTOMER_BY_EMAIL = """
query CustomerByEmail($email: String!) {
  customerByIdentifier(identifier: { emailAddress: $email }) { id }
}
"""

ADD_CUSTOMER_TAGS = """
mutation AddCustomerTags($id: ID!, $tags: [String!]!) {
  tagsAdd(id: $id, tags: $tags) {
    node { id }
    userErrors { field message }
  }
}
"""

REMOVE_CUSTOMER_TAGS = """
mutation RemoveCustomerTags($id: ID!, $tags: [String!]!) {
  tagsRemove(id: $id, tags: $tags) {
    node { id }
    userErrors { field message }
  }
}
"""

# `id` is the customer's GID: Shopify opens the store credit account in that currency.
CREDIT_STORE_CREDIT = """
mutation CreditStoreCredit($id: ID!, $credit: StoreCreditAccountCreditInput!) {
  storeCreditAccountCredit(id: $id, creditInput: $credit) {
    storeCreditAccountTransaction { id }
    userErrors { field code message }
  }
}
"""

_MONEY = "shopMoney { amount currencyCode }"

# Orders updated since a watermark, oldest first. Query cost is roughly
# first * (25 + 7 * lineItems + 12 * refunds): with 5 orders, 15 lines and 3 refunds (3
# transactions each) a page costs about 850 of the 1,000-point single-query limit.
ORDERS_UPDATED_SINCE = f"""
query OrdersUpdatedSince($query: String!, $first: Int!, $after: String) {{
  orders(query: $query, first: $first, after: $after, sortKey: UPDATED_AT) {{
    pageInfo {{ hasNextPage endCursor }}
    nodes {{
      id
      legacyResourceId
      name
      createdAt
      updatedAt
      cancelledAt
      cancelReason
      displayFinancialStatus
      test
      email
      sourceName
      clientIp
      currencyCode
      discountCodes
      subtotalPriceSet {{ {_MONEY} }}
      totalPriceSet {{ {_MONEY} }}
      currentTotalPriceSet {{ {_MONEY} }}
      totalDiscountsSet {{ {_MONEY} }}
      customer {{ legacyResourceId numberOfOrders defaultEmailAddress {{ emailAddress }} }}
      shippingAddress {{ address1 address2 zip countryCodeV2 }}
      billingAddress {{ countryCodeV2 }}
      customAttributes {{ key value }}
      customerJourneySummary {{ firstVisit {{ landingPage }} }}
      lineItems(first: 15) {{
        pageInfo {{ hasNextPage }}
        nodes {{
          quantity
          originalUnitPriceSet {{ {_MONEY} }}
          totalDiscountSet {{ {_MONEY} }}
          product {{ legacyResourceId }}
          variant {{ legacyResourceId }}
        }}
      }}
      refunds(first: 3) {{
        legacyResourceId
        createdAt
        transactions(first: 3) {{
          nodes {{ kind status amountSet {{ {_MONEY} }} }}
        }}
      }}
    }}
  }}
}}
"""

# Read once at install: the shop's currency (rewards are in it), name and contact email.
SHOP_DETAILS = """
query ShopDetails {
  shop { currencyCode name email }
}
"""

ALL_DOCUMENTS = {
    "CREATE_BASIC_DISCOUNT": CREATE_BASIC_DISCOUNT,
    "CREATE_FREE_SHIPPING_DISCOUNT": CREATE_FREE_SHIPPING_DISCOUNT,
    "DISCOUNT_BY_CODE": DISCOUNT_BY_CODE,
    "DEACTIVATE_DISCOUNT": DEACTIVATE_DISCOUNT,
    "BULK_ADD_CODES": BULK_ADD_CODES,
    "BULK_CREATION_STATUS": BULK_CREATION_STATUS,
    "BULK_CREATION_FAILURES": BULK_CREATION_FAILURES,
    "CUSTOMER_BY_EMAIL": CUSTOMER_BY_EMAIL,
    "ADD_CUSTOMER_TAGS": ADD_CUSTOMER_TAGS,
    "REMOVE_CUSTOMER_TAGS": REMOVE_CUSTOMER_TAGS,
    "CREDIT_STORE_CREDIT": CREDIT_STORE_CREDIT,
    "ORDERS_UPDATED_SINCE": ORDERS_UPDATED_SINCE,
    "SHOP_DETAILS": SHOP_DETAILS,
}
