# storm.rb PROFILER: open many TLS connections with mysql2 inside
# StackProf.run(mode: :wall, interval: 1000), with PROFILER "stillprof"
# (require "stillprof/stackprof") or "stackprof" (the real gem).
# Environment: STORM_PORT, STORM_PASSWORD, STORM_CA, STORM_THREADS,
# STORM_COUNT (per thread).  Prints "key value" pairs on one line.
if ARGV[0] == "stackprof"
  require "stackprof"
else
  require "stillprof/stackprof"
end
require "mysql2"

threads = Integer(ENV.fetch("STORM_THREADS", "3"))
count = Integer(ENV.fetch("STORM_COUNT", "100"))
ok = 0
errors = []
lock = Mutex.new
storm = lambda do
      count.times do
        begin
          c = Mysql2::Client.new(host: "127.0.0.1", port: Integer(ENV["STORM_PORT"]),
                                 username: "storm", password: ENV["STORM_PASSWORD"],
                                 sslca: ENV["STORM_CA"], connect_timeout: 10)
          c.query("SELECT SLEEP(0.001), 1").to_a
          c.close
          lock.synchronize { ok += 1 }
        rescue => e
          lock.synchronize { errors << "#{e.class}: #{e.message}" }
        end
      end
end
# The main thread connects too: a process-directed SIGALRM (stackprof
# :wall) lands there, as in a single-threaded app server.
res = StackProf.run(mode: :wall, interval: 1000, raw: true) do
  workers = Array.new(threads - 1) { Thread.new(&storm) }
  storm.call
  workers.each(&:join)
end
puts "profiler #{ARGV[0]} connects_ok #{ok} connect_errors #{errors.size} samples #{res[:samples]}"
errors.uniq.first(5).each { |e| $stderr.puts e }
