// C11 threads (<threads.h>) on top of POSIX threads, for ThreadSanitizer builds only.
//
// librdkafka creates its threads with thrd_create and locks with mtx_* and cnd_*.
// gcc 12's TSan runtime intercepts the pthread_* functions but none of these, and glibc
// implements them with internal calls that bypass the interceptors: TSan never learns of
// librdkafka's threads (it crashes in the first malloc of one: "SEGV on unknown address
// 0x000000000c38") and sees none of its locking. Defined in the executable, these take
// precedence over glibc's for librdkafka and do what glibc does, through the pthread_*
// functions TSan sees. glibc's thrd_t, mtx_t and cnd_t are its pthread_t,
// pthread_mutex_t and pthread_cond_t.
#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <threads.h>

#include <new>

#if defined(__SANITIZE_THREAD__)

static_assert(sizeof(thrd_t) == sizeof(pthread_t));
static_assert(sizeof(mtx_t) == sizeof(pthread_mutex_t));
static_assert(sizeof(cnd_t) == sizeof(pthread_cond_t));

namespace {

int ThrdResult(int err) {
  switch (err) {
    case 0: return thrd_success;
    case EBUSY: return thrd_busy;
    case ETIMEDOUT: return thrd_timedout;
    case ENOMEM: return thrd_nomem;
    default: return thrd_error;
  }
}

struct ThreadStart {
  thrd_start_t func;
  void* arg;
};

void* RunThread(void* p) {
  const ThreadStart start = *static_cast<ThreadStart*>(p);
  delete static_cast<ThreadStart*>(p);
  return reinterpret_cast<void*>(static_cast<intptr_t>(start.func(start.arg)));
}

pthread_mutex_t* Mutex(mtx_t* m) { return reinterpret_cast<pthread_mutex_t*>(m); }
pthread_cond_t* Cond(cnd_t* c) { return reinterpret_cast<pthread_cond_t*>(c); }

}  // namespace

extern "C" {

int thrd_create(thrd_t* thr, thrd_start_t func, void* arg) {
  ThreadStart* start = new (std::nothrow) ThreadStart{func, arg};
  if (start == nullptr) return thrd_nomem;
  const int err = pthread_create(reinterpret_cast<pthread_t*>(thr), nullptr, RunThread, start);
  if (err != 0) delete start;
  return ThrdResult(err);
}

int thrd_join(thrd_t thr, int* res) {
  void* result = nullptr;
  const int err = pthread_join(static_cast<pthread_t>(thr), &result);
  if (err == 0 && res != nullptr) *res = static_cast<int>(reinterpret_cast<intptr_t>(result));
  return ThrdResult(err);
}

int thrd_detach(thrd_t thr) { return ThrdResult(pthread_detach(static_cast<pthread_t>(thr))); }

int mtx_init(mtx_t* m, int type) {
  pthread_mutexattr_t attr;
  pthread_mutexattr_init(&attr);
  if (type & mtx_recursive) pthread_mutexattr_settype(&attr, PTHREAD_MUTEX_RECURSIVE);
  const int err = pthread_mutex_init(Mutex(m), &attr);
  pthread_mutexattr_destroy(&attr);
  return ThrdResult(err);
}
int mtx_lock(mtx_t* m) { return ThrdResult(pthread_mutex_lock(Mutex(m))); }
int mtx_trylock(mtx_t* m) { return ThrdResult(pthread_mutex_trylock(Mutex(m))); }
int mtx_timedlock(mtx_t* m, const struct timespec* deadline) {
  return ThrdResult(pthread_mutex_timedlock(Mutex(m), deadline));
}
int mtx_unlock(mtx_t* m) { return ThrdResult(pthread_mutex_unlock(Mutex(m))); }
void mtx_destroy(mtx_t* m) { pthread_mutex_destroy(Mutex(m)); }

int cnd_init(cnd_t* c) { return ThrdResult(pthread_cond_init(Cond(c), nullptr)); }
int cnd_signal(cnd_t* c) { return ThrdResult(pthread_cond_signal(Cond(c))); }
int cnd_broadcast(cnd_t* c) { return ThrdResult(pthread_cond_broadcast(Cond(c))); }
int cnd_wait(cnd_t* c, mtx_t* m) { return ThrdResult(pthread_cond_wait(Cond(c), Mutex(m))); }
int cnd_timedwait(cnd_t* c, mtx_t* m, const struct timespec* deadline) {
  return ThrdResult(pthread_cond_timedwait(Cond(c), Mutex(m), deadline));
}
void cnd_destroy(cnd_t* c) { pthread_cond_destroy(Cond(c)); }

}  // extern "C"

#endif  // defined(__SANITIZE_THREAD__)
