#ifndef ROTA_CLIBPQ_SHIM_H
#define ROTA_CLIBPQ_SHIM_H
// libpq's client API; pkg-config (libpq) supplies the include path.
#include <libpq-fe.h>
#endif
