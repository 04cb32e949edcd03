#pragma once
// One `ltest -n` run spread over the gateway's kernels (gateway_shards.py
// is the kernels' side): the lead run (the client's) collected the node
// ids; they are handed out in small batches to whichever kernel asks next
// (work stealing), and the helpers' reports wait here for the lead, which
// prints the one report. Every report the lead had (its own workers' too)
// is kept, so that if the lead's kernel dies another kernel's run takes
// over the lead and prints the whole report again. Data only:
// server_shards.cpp does the messages.
#include <cstddef>
#include <deque>
#include <map>
#include <set>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace ltest {

class shard_job {
public:
    // The lead's collection (empty: nothing to hand out, the job is over).
    void set_ids(const std::vector<std::string>& ids);
    bool ids_known() const { return ids_known_; }

    // Batches for `idle` workers of kernel (`workers` there): smaller as the
    // queue empties, so that the kernels finish together.
    std::vector<std::vector<std::string>> take(int kernel, int idle, int workers);
    // Everything handed out (or the lead stopped): a worker that asks is done.
    bool dispatch_done() const { return stopped_ || (ids_known_ && queue_.empty()); }
    void stop() { stopped_ = true; }

    // A helper's events (shard.py's, as JSON): a test's are passed on to the
    // lead once its logfinish is in, so a test cut short by its kernel's
    // death is run again whole, never reported twice.
    void from_helper(int kernel, const nlohmann::json& events);
    // The lead's own workers' events, as it replayed them: kept (a test's
    // once finished) for a lead that takes over.
    void from_lead(const nlohmann::json& events);
    nlohmann::json take_events();               // for the lead, in arrival order
    std::vector<std::string> take_notes();      // lines for the lead's report
    nlohmann::json take_lost();                 // [[nodeid, why]]: to report failed

    void set_lead(int kernel) { lead_ = kernel; }
    int lead() const { return lead_; }
    void add_helper(int kernel) { helpers_.insert(kernel); }
    void helper_finished(int kernel);
    // A helper's run ended without finishing (its kernel died, or its test
    // process did): its unfinished tests go back to the queue, once.
    void helper_lost(int kernel, const std::string& why);
    std::set<int> helpers_running() const { return helpers_; }
    // The lead's kernel died: its unfinished tests go back to the queue
    // (once), and the next lead is handed every report so far, then the new
    // ones. False: the job cannot go on (stopped, or every kernel has led).
    bool lead_lost(const std::string& why, std::size_t kernels);
    // A free kernel may join with a helper: there are tests to hand out, and
    // it is not in the job already (one that finished its part joins again
    // only for tests put back in the queue since).
    bool may_join(int kernel) const;
    // 1, 2, ...: each helper run's number in the job (its run id's end).
    int next_helper_number() { return ++helpers_started_; }

    // The lead may end: nothing left to hand out, run, or pass on.
    bool all_done() const;

    std::size_t handed_out() const { return handed_out_; }
    // Tests whose whole report the server has, by the kernel that ran them.
    const std::map<int, std::size_t>& finished_by_kernel() const { return finished_by_; }

private:
    std::deque<std::string> queue_;
    bool ids_known_ = false, stopped_ = false;
    std::map<int, int> workers_;  // each kernel's workers, for batch sizes
    std::map<int, std::set<std::string>> outstanding_;  // helper -> handed out, not finished
    std::map<int, std::map<std::string, nlohmann::json>> in_progress_;  // helper -> nodeid -> its events so far
    std::set<std::string> requeued_;  // run again once already
    std::set<int> helpers_;           // helpers still running
    nlohmann::json events_ = nlohmann::json::array();
    std::vector<std::string> notes_;
    nlohmann::json lost_ = nlohmann::json::array();
    std::size_t handed_out_ = 0;
    std::map<int, std::size_t> finished_by_;
    int lead_ = 0;
    std::size_t takeovers_ = 0;
    int helpers_started_ = 0;
    int requeues_ = 0;                 // times tests went back to the queue
    std::map<int, int> finished_at_;   // helper kernel -> requeues_ when it finished its part
    nlohmann::json delivered_ = nlohmann::json::array();  // every event the lead has had
    std::vector<std::string> delivered_notes_;
    void requeue(int kernel, const std::string& why);
    void collect(int kernel, const nlohmann::json& events, nlohmann::json& into);
};

}  // namespace ltest
