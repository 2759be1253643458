// One pool of worker threads for every CPU kernel.
//
// parallel_for(begin, end, body) splits [begin, end) into contiguous blocks, one per thread
// (the caller's thread takes one), and returns when all are done. Each output row is computed
// by one call of body and never depends on another, so results do not depend on the number of
// threads. The size is set by set_threads() (gswarp.set_num_threads, --jobs,
// GSWARP_NUM_THREADS); the workers are started on first use and kept.
#pragma once

#include <algorithm>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

namespace gswarp {

class ThreadPool {
 public:
  static ThreadPool& instance() {
    static ThreadPool pool;
    return pool;
  }

  // Threads a parallel_for uses (the calling thread included); at least 1.
  void set_threads(int count) {
    std::lock_guard<std::mutex> guard(run_mutex_);
    threads_ = std::max(1, count);
  }
  int threads() const { return threads_; }

  void parallel_for(std::int64_t begin, std::int64_t end,
                    const std::function<void(std::int64_t, std::int64_t)>& body) {
    const std::int64_t total = end - begin;
    if (total <= 0) return;
    std::lock_guard<std::mutex> guard(run_mutex_);  // one parallel_for at a time
    const int parts = static_cast<int>(std::min<std::int64_t>(threads_, total));
    if (parts == 1) {
      body(begin, end);
      return;
    }
    start_workers(parts - 1);
    {
      std::lock_guard<std::mutex> lock(mutex_);
      body_ = &body;
      begin_ = begin;
      total_ = total;
      parts_ = parts;
      pending_ = parts - 1;
      ++generation_;
    }
    wake_.notify_all();
    run_part(0);
    std::unique_lock<std::mutex> lock(mutex_);
    done_.wait(lock, [this] { return pending_ == 0; });
    body_ = nullptr;
  }

  ~ThreadPool() {
    {
      std::lock_guard<std::mutex> lock(mutex_);
      stopping_ = true;
      ++generation_;
    }
    wake_.notify_all();
    for (auto& worker : workers_) worker.join();
  }

 private:
  ThreadPool() : threads_(static_cast<int>(std::max(1u, std::thread::hardware_concurrency()))) {}

  void run_part(int part) {
    const std::int64_t from = begin_ + total_ * part / parts_;
    const std::int64_t to = begin_ + total_ * (part + 1) / parts_;
    if (from < to) (*body_)(from, to);
  }

  void start_workers(int count) {
    while (static_cast<int>(workers_.size()) < count) {
      const int part = static_cast<int>(workers_.size()) + 1;
      workers_.emplace_back([this, part] { work(part); });
    }
  }

  void work(int part) {
    std::uint64_t seen = 0;
    std::unique_lock<std::mutex> lock(mutex_);
    for (;;) {
      wake_.wait(lock, [&] { return stopping_ || generation_ != seen; });
      if (stopping_) return;
      seen = generation_;
      if (part >= parts_) continue;  // a smaller run than this worker's part
      lock.unlock();
      run_part(part);
      lock.lock();
      if (--pending_ == 0) done_.notify_one();
    }
  }

  std::mutex run_mutex_;
  std::mutex mutex_;
  std::condition_variable wake_, done_;
  std::vector<std::thread> workers_;
  const std::function<void(std::int64_t, std::int64_t)>* body_ = nullptr;
  std::int64_t begin_ = 0, total_ = 0;
  int parts_ = 0, pending_ = 0, threads_;
  std::uint64_t generation_ = 0;
  bool stopping_ = false;
};

}  // namespace gswarp
