"""The audit, pure: the rule table (``rules``), the evidence and findings (``model``), the
browser playability tables (``playability``), the library report (``report``), duplicates
(``duplicates``) and the fix plan (``plan``). The I/O is in ``mediaserve.adapters.audit``."""
