"""Import paths kept from the released client (``qiboconnection.typings.connection`` and friends)."""
