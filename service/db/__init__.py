"""Database: engine and sessions (`engine`), the declarative base and column types
(`base`), the engine-side tables (`models`), the reference data items and subscribers
share (`reference`: topics, audiences, municipalities; seeded by `seed`), migrations
(`migrate`). The audience's own tables live in `subscribers.models`."""
