// How many processors this process may run on: its affinity mask (which a container's
// cpuset or `taskset` narrows), which Swift's Glibc module does not declare.
#define _GNU_SOURCE
#include <sched.h>
#include "ledger_accel.h"

int ledger_processors_allowed(void) {
#if defined(__linux__) && defined(CPU_COUNT)
    cpu_set_t set;
    CPU_ZERO(&set);
    if (sched_getaffinity(0, sizeof set, &set) == 0) return CPU_COUNT(&set);
#endif
    return 0;
}

#include <pthread.h>
#include <stdlib.h>

/// What a thread started elsewhere runs first: the affinity the process had, then its work.
struct ledger_elsewhere {
    void *(*work)(void *);
    void *context;
#if defined(__linux__) && defined(CPU_COUNT)
    cpu_set_t allowed;
#endif
};

static void *ledger_elsewhere_start(void *p) {
    struct ledger_elsewhere start = *(struct ledger_elsewhere *)p;
    free(p);
#if defined(__linux__) && defined(CPU_COUNT)
    pthread_setaffinity_np(pthread_self(), sizeof start.allowed, &start.allowed);
#endif
    return start.work(start.context);
}

int ledger_thread_create_elsewhere(pthread_t *thread, void *(*work)(void *), void *context) {
#if defined(__linux__) && defined(CPU_COUNT)
    struct ledger_elsewhere *start = malloc(sizeof *start);
    if (start == NULL) return pthread_create(thread, NULL, work, context);
    start->work = work;
    start->context = context;
    CPU_ZERO(&start->allowed);
    pthread_attr_t attr;
    int elsewhere = 0;
    int here = sched_getcpu();
    if (pthread_attr_init(&attr) == 0) {
        if (sched_getaffinity(0, sizeof start->allowed, &start->allowed) == 0 && here >= 0 && CPU_ISSET(here, &start->allowed)) {
            cpu_set_t others = start->allowed;
            CPU_CLR(here, &others);
            elsewhere = CPU_COUNT(&others) > 0 && pthread_attr_setaffinity_np(&attr, sizeof others, &others) == 0;
        }
        if (elsewhere) {
            int rc = pthread_create(thread, &attr, ledger_elsewhere_start, start);
            pthread_attr_destroy(&attr);
            if (rc != 0) free(start);
            return rc;
        }
        pthread_attr_destroy(&attr);
    }
    free(start);
#endif
    return pthread_create(thread, NULL, work, context);
}
