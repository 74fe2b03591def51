// Package apitest holds restored's end-to-end API tests: the real server over
// real HTTP and real websockets (httptest), backed by SQLite and the
// in-process Redis by default, or PostgreSQL and Redis when
// RESTORED_TEST_DATABASE_URL and RESTORED_TEST_REDIS_URL are set (CI).
package apitest
