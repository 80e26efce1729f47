"""Database: engine and sessions (`engine`), the declarative base and column types
(`base`), the engine-side tables (`models`), reference data (`seed`), migrations
(`migrate`). Audience tables live in `subscribers.models`."""
