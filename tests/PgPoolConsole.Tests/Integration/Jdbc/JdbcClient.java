import java.sql.*;
import java.util.*;
import java.util.concurrent.*;
import org.postgresql.PGConnection;
import org.postgresql.largeobject.LargeObject;
import org.postgresql.largeobject.LargeObjectManager;

/**
 * What applications on pgjdbc do through the proxy: server-prepared statements (after
 * prepareThreshold uses), batches (many Bind/Execute, one Sync), generated keys, savepoints,
 * fetch sizes (suspended portals), query timeouts (cancel requests), multiple result sets, large
 * objects and concurrent transactions. Prints one line per check; exits 1 when any failed.
 * Arguments: port database [more connection options, as in a URL: a=1&b=2].
 */
public class JdbcClient {
    static int failures = 0;

    static void check(boolean ok, String what) {
        System.out.println((ok ? "ok " : "FAIL ") + what);
        if (!ok) failures++;
    }

    static String options = "";

    static Connection open(String port, String database) throws SQLException {
        return DriverManager.getConnection("jdbc:postgresql://127.0.0.1:" + port + "/" + database
            + "?user=postgres&password=postgres&ApplicationName=jdbc-test&prepareThreshold=3" + options);
    }

    public static void main(String[] args) throws Exception {
        String port = args[0], database = args[1];
        if (args.length > 2) options = "&" + args[2];
        try (Connection c = open(port, database)) {
            try (Statement s = c.createStatement()) {
                s.execute("CREATE TABLE items (id serial PRIMARY KEY, name text NOT NULL, created timestamptz DEFAULT now(), token uuid DEFAULT gen_random_uuid())");
                s.execute("CREATE TABLE accounts (id int PRIMARY KEY, balance int NOT NULL)");
                s.execute("INSERT INTO accounts SELECT g, 1000 FROM generate_series(1, 10) g");
            }

            c.setAutoCommit(false);
            try (PreparedStatement p = c.prepareStatement("INSERT INTO items (name) VALUES (?)")) {
                for (int i = 0; i < 10; i++) { p.setString(1, "single" + i); p.executeUpdate(); }
            }
            c.commit();
            check(true, "10 single inserts, server-prepared after 3");

            try (PreparedStatement p = c.prepareStatement("INSERT INTO items (name) VALUES (?)")) {
                for (int i = 0; i < 50; i++) { p.setString(1, "batch" + i); p.addBatch(); }
                int[] counts = p.executeBatch();
                // reWriteBatchedInserts turns the batch into multi-row INSERTs and reports SUCCESS_NO_INFO.
                check(counts.length == 50 && Arrays.stream(counts).allMatch(n -> n == 1 || n == Statement.SUCCESS_NO_INFO), "batch of 50 inserts");
            }
            c.commit();

            try (PreparedStatement p = c.prepareStatement("INSERT INTO items (name) VALUES (?)", Statement.RETURN_GENERATED_KEYS)) {
                p.setString(1, "keyed");
                p.executeUpdate();
                try (ResultSet keys = p.getGeneratedKeys()) {
                    check(keys.next() && keys.getInt("id") == 61, "generated key 61");
                }
            }

            Savepoint savepoint = c.setSavepoint();
            try (Statement s = c.createStatement()) {
                s.execute("INSERT INTO items (id, name) VALUES (1, 'duplicate')");
                check(false, "duplicate key refused");
            } catch (SQLException e) {
                check("23505".equals(e.getSQLState()), "duplicate key refused: " + e.getSQLState());
            }
            c.rollback(savepoint);
            c.commit();

            if (options.contains("autosave=always")) {
                // The driver wraps each statement in a savepoint (sent as a simple Query between
                // its extended BEGIN and the statement): after an error the transaction goes on.
                try (Statement s = c.createStatement()) {
                    s.execute("INSERT INTO items (id, name) VALUES (2, 'duplicate')");
                } catch (SQLException e) {
                    check("23505".equals(e.getSQLState()), "autosave: duplicate key refused: " + e.getSQLState());
                }
                try (Statement s = c.createStatement()) {
                    s.execute("DELETE FROM items WHERE name = 'keyed'");
                    s.execute("INSERT INTO items (id, name) VALUES (61, 'keyed')");
                }
                c.commit();
                check(true, "autosave: the transaction went on after the error");
            }

            try (PreparedStatement p = c.prepareStatement("SELECT id, name FROM items ORDER BY id")) {
                p.setFetchSize(7);
                int rows = 0;
                try (ResultSet r = p.executeQuery()) { while (r.next()) rows++; }
                check(rows == 61, "61 rows fetched 7 at a time");
            }
            c.commit();

            try (Statement s = c.createStatement()) {
                s.setQueryTimeout(1);
                s.execute("SELECT pg_sleep(30)");
                check(false, "query timeout cancels");
            } catch (SQLException e) {
                check("57014".equals(e.getSQLState()), "query timeout cancels: " + e.getSQLState());
            }
            c.rollback();

            try (Statement s = c.createStatement()) {
                boolean isResultSet = s.execute("SELECT 1; UPDATE items SET name = name || '!' WHERE id <= 5; SELECT 2");
                int resultSets = 0, updated = -1;
                while (true) {
                    if (isResultSet) resultSets++;
                    else if (s.getUpdateCount() == -1) break;
                    else updated = s.getUpdateCount();
                    isResultSet = s.getMoreResults();
                }
                check(resultSets == 2 && updated == 5, "two result sets and an update count of 5");
            }
            c.commit();

            LargeObjectManager objects = c.unwrap(PGConnection.class).getLargeObjectAPI();
            long oid = objects.createLO();
            LargeObject object = objects.open(oid, LargeObjectManager.WRITE);
            object.write("hello from jdbc".getBytes());
            object.close();
            try (PreparedStatement p = c.prepareStatement("INSERT INTO items (name) VALUES (?)")) {
                p.setString(1, "lo:" + oid);
                p.executeUpdate();
            }
            c.commit();
            check(oid > 0, "large object created");
        }

        // Concurrent transfers: each a batch of two updates and a read, committed.
        ExecutorService pool = Executors.newFixedThreadPool(4);
        List<Future<Integer>> workers = new ArrayList<>();
        for (int w = 0; w < 4; w++) {
            final int worker = w;
            workers.add(pool.submit(() -> {
                int done = 0;
                try (Connection c = open(port, database)) {
                    c.setAutoCommit(false);
                    Random random = new Random(worker);
                    try (PreparedStatement move = c.prepareStatement("UPDATE accounts SET balance = balance + ? WHERE id = ?");
                         PreparedStatement read = c.prepareStatement("SELECT sum(balance) FROM accounts")) {
                        for (int i = 0; i < 40; i++) {
                            int from = 1 + random.nextInt(10), to = 1 + random.nextInt(10), amount = 1 + random.nextInt(50);
                            move.setInt(1, -amount); move.setInt(2, Math.min(from, to)); move.addBatch();
                            move.setInt(1, amount); move.setInt(2, Math.max(from, to)); move.addBatch();
                            move.executeBatch();
                            try (ResultSet r = read.executeQuery()) { r.next(); }
                            c.commit();
                            done++;
                        }
                    }
                }
                return done;
            }));
        }
        int committed = 0;
        for (Future<Integer> worker : workers) committed += worker.get(120, TimeUnit.SECONDS);
        pool.shutdown();
        check(committed == 160, "160 concurrent transfer transactions committed");

        try (Connection c = open(port, database); Statement s = c.createStatement();
             ResultSet r = s.executeQuery("SELECT sum(balance), (SELECT count(DISTINCT token) FROM items) FROM accounts")) {
            r.next();
            check(r.getInt(1) == 10000 && r.getInt(2) == 62, "balances sum to 10000, 62 distinct tokens");
        }

        System.exit(failures == 0 ? 0 : 1);
    }
}
