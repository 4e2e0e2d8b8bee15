#ifndef CAAS_CLIBPQ_SHIM_H
#define CAAS_CLIBPQ_SHIM_H
#include <libpq-fe.h>
#endif
