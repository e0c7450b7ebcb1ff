"""Types of the optional SHA-256 extension (schemas/_sha256ni.c); schemas.sha256 checks and picks it."""

# Set by every x86 build with GCC or Clang, which can offer the functions below
SHA_NI_BUILT: int

# Offered only where the CPU has the x86 SHA extensions (schemas/sha256.py picks them or hashlib's)
def sha256_hex(data: bytes) -> str: ...
def joined_sha256_hex(*parts: object) -> str | None: ...
