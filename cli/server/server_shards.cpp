// `ltest -n` on a server with several gateway kernels: the client's run
// leads on one kernel, a helper run (no client) goes to each other free
// kernel, and the test processes ask the server for tests and pass reports
// on through their kernels' input_requests (gateway_shards.py, relay.py's
// SERVER_QUESTION): the server answers those itself.
#include <unistd.h>

#include <algorithm>
#include <set>

#include "log.hpp"
#include "server_core.hpp"

namespace ltest {
using namespace std::chrono;

// relay.py's SERVER_QUESTION: the prompt of a test process's question.
static const std::string server_question = "\x1b[ltest-shards]";

// A queued `-n` run while two kernels or more are free: it leads, and each
// other free kernel gets a helper. False: the run goes to one kernel as before.
bool server::start_sharded(run& lead, std::list<run>& helpers) {
    if (lead.spec.workers == 1 || gateway_pool_.size() == 0 || !lead.shard_of.empty()) return false;
    std::vector<int> free;
    for (int k = 0; k <= static_cast<int>(gateway_pool_.size()); ++k) {
        warm_kernel& kernel = k == 0 ? kernel_ : gateway_pool_.at(k - 1);
        if (!kernel.usable()) continue;
        bool busy = false;
        for (const auto& r : runs_) busy |= r.kernel == k && (r.phase() == run_phase::relaying || !r.execute_id.empty());
        for (const auto& r : helpers) busy |= r.kernel == k;
        if (!busy) free.push_back(k);
    }
    if (free.size() < 2) return false;
    shard_job& job = shard_jobs_[lead.id];
    lead.shard_lead = true;
    if (lead.spec.workers == 0 && opts_.workers_per_kernel > 0) lead.spec.workers = opts_.workers_per_kernel;  // else each host's CPUs
    lead.kernel = free[0];
    for (std::size_t i = 1; i < free.size(); ++i) {
        run h;
        h.id = lead.id + "/" + std::to_string(free[i]);
        h.request_header = lead.request_header;
        h.spec = lead.spec;
        h.shard_of = lead.id;
        h.kernel = free[i];
        job.add_helper(free[i]);
        helpers.push_back(std::move(h));
    }
    log::server().info("run {} sharded over {} gateway kernels", lead.id.substr(0, 8), free.size());
    // Each kernel's project tree is made the client's first (server_tree_sync.cpp);
    // a refused one is answered: the lead's ends the job, a helper's leaves it.
    if (kernel_for(lead).settings().gateway && !sync_tree(lead)) {
        helpers.clear();
        return true;
    }
    start_relayed(lead);
    for (auto& h : helpers)
        if (!kernel_for(h).settings().gateway || sync_tree(h)) start_relayed(h);
    return true;
}

// A test process's question through its kernel's input_request: answered
// here (or held, for a helper that asks before the lead's ids are in).
// False: not a question of ours (the test's own input()).
bool server::on_shard_question(run& r, const kb::message& m) {
    std::string prompt = m.content.value("prompt", "");
    if (prompt.rfind(server_question, 0) != 0) {
        if (r.shard_of.empty()) return false;
        // A helper's test reads stdin: it has no client, so it gets what a client at the end of its input sends.
        kernel_for(r).client().send_input_reply("\x04", m.header);
        return true;
    }
    json question = json::parse(prompt.substr(server_question.size()), nullptr, false);
    if (!r.shard_lead && r.shard_of.empty()) {  // a run that is not sharded asks nothing of us
        kernel_for(r).client().send_input_reply("{}", m.header);
        return true;
    }
    const std::string& lead_id = r.shard_lead ? r.id : r.shard_of;
    auto job = shard_jobs_.find(lead_id);
    if (job == shard_jobs_.end() || question.is_discarded()) {  // the lead is gone: nothing more to do
        kernel_for(r).client().send_input_reply(json{{"done", true}, {"all_done", true}}.dump(), m.header);
        return true;
    }
    if (!r.shard_lead && question.value("op", "") == "next" && question.value("idle", 0) > 0 && !job->second.ids_known()) {
        r.shard_waiting = json{{"header", m.header}, {"question", question}};
        return true;
    }
    answer_shard_question(r, m.header, question);
    return true;
}

void server::answer_shard_question(run& r, const json& header, const json& question) {
    const std::string& lead_id = r.shard_lead ? r.id : r.shard_of;
    shard_job& job = shard_jobs_[lead_id];
    std::string op = question.value("op", "");
    json reply = json::object();
    if (op == "ids" && r.shard_lead) {
        job.set_ids(question.value("ids", std::vector<std::string>{}));
        kernel_for(r).client().send_input_reply("{}", header);
        for (auto& h : runs_)  // the helpers that asked first
            if (h.shard_of == lead_id && !h.shard_waiting.empty()) {
                json held = std::move(h.shard_waiting);
                h.shard_waiting = json();
                answer_shard_question(h, held["header"], held["question"]);
            }
        return;
    }
    if (op == "stop") job.stop();
    if (!r.shard_lead && question.contains("events")) job.from_helper(r.kernel, question["events"]);
    if (op == "finished" && !r.shard_lead) job.helper_finished(r.kernel);
    if (op == "next") {
        reply["batches"] = job.take(r.kernel, question.value("idle", 0), question.value("workers", 0));
        reply["done"] = job.dispatch_done();
    }
    if (r.shard_lead) {
        reply["events"] = job.take_events();
        reply["notes"] = job.take_notes();
        reply["lost"] = job.take_lost();
        reply["all_done"] = job.all_done();
    }
    kernel_for(r).client().send_input_reply(reply.dump(-1, ' ', false, json::error_handler_t::replace), header);
}

// A sharded run was answered: a helper's end (finished, or its tests go
// back to the queue), or the lead's (its helpers stop).
void server::shard_run_ended(run& r) {
    if (r.shard_lead) {
        auto job = shard_jobs_.find(r.id);
        if (job == shard_jobs_.end()) return;
        job->second.stop();
        log::server().info("run {}: {} tests handed out", r.id.substr(0, 8), job->second.handed_out());
        signal_helpers(r);  // those not finished: the lead ended early (an error, Ctrl-C, -x)
        for (auto& h : runs_)  // a helper still waiting for the lead's ids: there are none
            if (h.shard_of == r.id && !h.shard_waiting.empty()) {
                kernel_for(h).client().send_input_reply(json{{"done", true}, {"all_done", true}}.dump(),
                                                        h.shard_waiting["header"]);
                h.shard_waiting = json();
            }
        shard_jobs_.erase(job);
        return;
    }
    if (r.shard_of.empty()) return;
    auto job = shard_jobs_.find(r.shard_of);
    if (job == shard_jobs_.end()) return;
    std::string host = kernel_for(r).status().value("gateway", json::object()).value("host", std::string());
    std::string why = "gateway kernel " + std::to_string(r.kernel + 1) + (host.empty() ? "" : " on " + host) +
                      " stopped before its tests were done";
    job->second.helper_lost(r.kernel, why);  // nothing when it had finished
}

// Ctrl-C (or the lead's early end) reaches every kernel's workers; a helper
// that finished is not interrupted (its kernel would be, in what runs next).
void server::signal_helpers(const run& lead) {
    auto job = shard_jobs_.find(lead.id);
    if (job == shard_jobs_.end()) return;
    std::set<int> running = job->second.helpers_running();
    for (auto& h : runs_)
        if (h.shard_of == lead.id && h.phase() == run_phase::relaying && running.count(h.kernel)) {
            h.interrupts = std::max(h.interrupts, 1);
            signal_run(h);
        }
}

}  // namespace ltest
